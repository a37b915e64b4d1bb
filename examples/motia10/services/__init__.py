"""Plain Python beside the steps, imported from the project root (``from services.catalog ...``),
as Motia projects do."""
