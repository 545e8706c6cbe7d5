"""The companion custom-authorizer Lambda, deployed as a single file (see lambda_function.py)."""
