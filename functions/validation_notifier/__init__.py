"""Human-validation step: create the validation task and notify the reviewer."""
