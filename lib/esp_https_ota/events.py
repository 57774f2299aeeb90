# ESP_HTTPS_OTA_EVENT ids (current ESP-IDF numbering) and their dispatch to registered
# handlers. A handler's exception is reported and swallowed: it never breaks the OTA.

ESP_HTTPS_OTA_EVENT = "ESP_HTTPS_OTA_EVENT"

ESP_HTTPS_OTA_START = 0
ESP_HTTPS_OTA_CONNECTED = 1
ESP_HTTPS_OTA_GET_IMG_DESC = 2
ESP_HTTPS_OTA_VERIFY_CHIP_ID = 3
ESP_HTTPS_OTA_VERIFY_CHIP_REVISION = 4
ESP_HTTPS_OTA_DECRYPT_CB = 5
ESP_HTTPS_OTA_WRITE_FLASH = 6  # data: image bytes in flash (inflated ones for a compressed body)
ESP_HTTPS_OTA_UPDATE_BOOT_PARTITION = 7
ESP_HTTPS_OTA_FINISH = 8
ESP_HTTPS_OTA_ABORT = 9

_handlers: "list[tuple]" = []  # (handler, arg) pairs


def event_handler_register(handler, arg=None):
    """handler(arg, event_base, event_id, event_data) is called for every OTA event."""
    _handlers.append((handler, arg))


def event_handler_unregister(handler):
    for i in range(len(_handlers) - 1, -1, -1):
        if _handlers[i][0] is handler:
            _handlers.pop(i)


def post(event, data=None):
    i = 0
    while i < len(_handlers):  # index loop: a list iterator would allocate per event
        handler, arg = _handlers[i]
        try:
            handler(arg, ESP_HTTPS_OTA_EVENT, event, data)
        except Exception as e:
            try:
                print("esp_https_ota: event handler failed on event %d: %r" % (event, e))
            except MemoryError:  # the handler used up the heap: the OTA goes on without the log
                pass
        i += 1
