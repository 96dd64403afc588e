@_exported import Lifecycle
