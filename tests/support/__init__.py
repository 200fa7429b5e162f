"""Test support shared across test packages: data builders, the status case table, common fixtures."""
