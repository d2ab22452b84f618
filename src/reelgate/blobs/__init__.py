"""Where finished files live: a local directory (default) or, later, an S3-compatible bucket."""
