"""Driver schema files: data, installed as ``gemhost_schemas`` so wheels ship them."""
