"""What the billing benchmark charges: one model, one usage size, the debit it makes."""

TENANTS = 1000
MODEL = "claude-haiku-4-5"  # $1 / $5 per million tokens
INPUT_TOKENS, OUTPUT_TOKENS = 1000, 200  # $0.001 + $0.001: 0.01 credits at the markup of 5
USAGE = {"model": MODEL, "input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}
DEBIT, COST = "0.010000", "0.002000000000"
