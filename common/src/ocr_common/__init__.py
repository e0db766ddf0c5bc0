"""Plumbing shared by the VQVAE and GPT-2 sub-projects: config, trainer, tables, text, data."""
