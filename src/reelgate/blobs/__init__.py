"""Where finished files live: a local directory (default) or an S3-compatible bucket, with signed,
expiring download links; `keys` spells the layout."""
