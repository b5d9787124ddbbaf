"""Small shared ops: point bags, MIL scoring, point NMS."""
