"""motia_sim: the simulator."""
