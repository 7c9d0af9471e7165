from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class VersionReply(_message.Message):
    __slots__ = ["major", "minor", "server"]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    MINOR_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    major: int
    minor: int
    server: str
    def __init__(self, major: _Optional[int] = ..., minor: _Optional[int] = ..., server: _Optional[str] = ...) -> None: ...

class VersionRequest(_message.Message):
    __slots__ = ["client", "major", "minor"]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    MINOR_FIELD_NUMBER: _ClassVar[int]
    client: str
    major: int
    minor: int
    def __init__(self, major: _Optional[int] = ..., minor: _Optional[int] = ..., client: _Optional[str] = ...) -> None: ...
