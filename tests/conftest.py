"""Test-wide settings: hypothesis runs without deadlines (CI machines are shared and noisy)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "chorus", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=150
)
settings.load_profile("chorus")
