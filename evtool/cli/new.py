"""placeholder"""
def new() -> None:
    """x"""
