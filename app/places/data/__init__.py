"""Reference data of Jinshan (JSON), produced by ``generate.py``."""
