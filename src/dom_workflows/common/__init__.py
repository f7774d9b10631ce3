"""Types and presets every domain shares."""
