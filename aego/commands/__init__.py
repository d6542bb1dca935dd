"""Command-line front ends: argument parsing and error translation only; the work is in the library."""
