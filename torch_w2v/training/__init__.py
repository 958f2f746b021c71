"""Training: everything between ``Word2Vec.train()`` and the weights it updates.

==================  =========================================================================
module              concern
==================  =========================================================================
``trainer``         one ``train()`` call: corpus encoding, schedule, step choice, epochs, hooks
``engine``          the epoch loop over chunks and batches; schedule, seeds, device resolution
``batching``        batches made on the host (CPU producer thread) for the CPU steps
``device_batches``  batches made on the training device (corpus uploaded once) for the GPU steps
``weights``         the model's numpy weights as device tensors, and the per-word tables
``steps``           the step interface, its registry, and the torch, fused C and Triton steps
==================  =========================================================================
"""
