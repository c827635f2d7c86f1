//! moto (the EC2 emulator) for tests: filled in by the EC2 backend work.
