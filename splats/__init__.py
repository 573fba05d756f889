"""Splat file readers and the SplatCloud value they produce. No bpy here."""
