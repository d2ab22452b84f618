"""HTTP: one package per dialect (cometapi, runway, openai, native), the wire helpers they share
(`wire`), error rendering, auth, files, health and the OpenAPI document. Routes translate; the
service decides."""
