// placeholder so the target exists
