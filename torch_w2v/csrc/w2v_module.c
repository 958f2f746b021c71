/* The module init that makes the fused step's library (w2v_step.c) an importable extension module,
 * torch_w2v.training.steps._w2v_step: the import system then finds its path, installed or editable.
 * The module itself is empty; training/steps/fused.py loads the same file with ctypes. */
#include <Python.h>

static struct PyModuleDef w2v_module = {
    PyModuleDef_HEAD_INIT, "_w2v_step",
    "torch_w2v's fused CPU step (csrc/w2v_step.c), called through ctypes by training/steps/fused.py.",
    0, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__w2v_step(void) { return PyModule_Create(&w2v_module); }
