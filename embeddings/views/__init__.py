"""The dashboard's pages, one module each: jobs, settings (the embedding model) with switch (the
confirmation of a switch), storage, similar and quality; what they share is in common."""
