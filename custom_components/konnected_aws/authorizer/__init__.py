"""The companion custom-authorizer Lambda (deployed as a standalone file, see lambda_function.py)."""
