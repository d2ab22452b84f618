"""HTTP: one router module per dialect, plus files, health and admin."""
