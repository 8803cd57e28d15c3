"""``python -m ltrr_os`` is the ``ltrr`` command."""

from .cli import main

if __name__ == "__main__":
    main()
