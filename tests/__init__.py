"""Tests for the konnected_aws integration."""
