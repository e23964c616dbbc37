"""Dioramic: turn one photo into a 3D scene and film it."""

__version__ = "0.1.0"
