"""One module per architecture, each named after its paper.

Every module exposes its ``nn.Module`` classes and a ``load(state_dict)`` function that
returns a :class:`~sr_models.descriptor.ModelDescriptor` when the state dict has that
architecture's key layout, and ``None`` otherwise (spandrel's pattern).
"""
