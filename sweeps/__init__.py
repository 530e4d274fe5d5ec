"""Sweeps: Optuna studies, ablations over config keys, rationale-noise studies."""
