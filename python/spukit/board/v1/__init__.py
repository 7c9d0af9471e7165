"""Generated code of proto/spukit/board/v1/board.proto (make proto); do not edit."""
