"""Synthetic Korean text-line images: the dataset that needs nothing downloaded."""
