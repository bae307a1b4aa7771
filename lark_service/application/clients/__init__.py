"""The service clients: one per Lark area, all on `BaseServiceClient`."""
