"""Neuroglancer precomputed datasets: the info, storage, chunk layouts and Volume."""
