"""motia_rt: the runtime."""
