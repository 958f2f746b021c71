"""Training: everything between ``Word2Vec.train()`` and the weights it updates.

==================  =========================================================================
module              concern
==================  =========================================================================
``trainer``         one ``train()`` call: corpus encoding, schedule, step and layout, epochs, hooks
``registry``        the engine and pipeline names and the classes they select (torch-free)
``pipelines``       where batches come from (tokens, host, device), the run's layout
``engine``          the epoch loop over a pipeline's chunks; schedule, device resolution
``layout``          chunks and parts of an epoch over the encoded corpus
``batching``        batches made on the host (CPU producer thread), the token pipeline's pieces
``device_batches``  batches made on the training device (corpus uploaded once) for the GPU steps
``seeds``           the keys of every random draw
``weights``         the model's numpy weights as device tensors, and the per-word tables
``steps``           the step interface, the rule that picks a step, and the torch, fused C and Triton steps
==================  =========================================================================
"""
