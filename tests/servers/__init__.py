"""Private mail servers (Dovecot, ...) started by the test suite on loopback ports, for integration tests."""
