"""Generated protocol code (make proto): spukit.board.meta_pb2 and, in v1, the board service."""
