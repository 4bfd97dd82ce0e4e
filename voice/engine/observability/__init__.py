"""What a session measures and consumes: turn metrics, usage, audio quality."""
