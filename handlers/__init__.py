"""oscbot package."""
