package dev.ferry.vmm.qmp;

/** QMP error classes (qapi/error.json, QapiErrorClass). */
public enum QmpErrorClass {
    GenericError,
    CommandNotFound,
    DeviceNotActive,
    DeviceNotFound,
    KVMMissingCap
}
