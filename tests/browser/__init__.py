"""Home Assistant's real frontend in headless Chromium, with the emulator and simulated boards."""
