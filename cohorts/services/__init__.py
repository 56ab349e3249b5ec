"""nbcohort."""
