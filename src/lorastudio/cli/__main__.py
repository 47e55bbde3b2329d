"""`python -m lorastudio.cli`: the same as `lorastudio`."""

from . import main

main()
