"""Hik-Partner Pro status and error codes, as the vendor's guide lists them.

Source: "Hik-Partner Pro OpenAPI V2.14.0 Developer Guide", appendix A.1 (cloud codes in the
``errorCode`` of every answer and in ``failReason`` of device adding) and A.6 (the ISAPI
``subStatusCode`` values a device returns through the transparent channel). Descriptions are
the guide's own words, so an error message quotes the vendor, and the simulator answers with
exactly these codes (it imports this table; nothing else defines a code).

The driver's reaction to a code is decided here too, by category:

* :data:`CREDENTIAL_REJECTED`: the AK/SK (or key) is wrong or the account is gone or locked;
  an :class:`~gemhost.errors.AuthError`, never retried by the driver (the host's two-login
  back-off applies).
* :data:`TOKEN_REJECTED`: the access token is missing, malformed, expired (``LAP500004``) or
  failed verification; the client fetches a new token once and retries the call.
* :data:`RATE_LIMITED` and :data:`QUEUE_BUSY`: back off; nothing is wrong with the request.
"""

from __future__ import annotations

OK = "0"

# A.1 Status or Error Code (guide pages 155-159), in the guide's order.
DESCRIPTIONS: dict[str, str] = {
    "LAP300001": "AK not found.",
    "LAP300002": "AK and SK mismatches.",
    "LAP300003": "The Hik-Partner Pro account bound with the AK doesn't exist.",
    "LAP000000": "System exception.",
    "LAP000001": "Parameter error.",
    "LAP000003": "No resource found.",
    "LAP001005": "The account is locked.",
    "LAP002002": "The email has been registered.",
    "LAP002013": "Incomplete admin information.",
    "LAP002017": "Deleting employees failed.",
    "LAP004001": "Sending email failed.",
    "LAP004012": "Deleting yourself is not allowed.",
    "LAP004018": "The role that linked to the site manager cannot be deleted.",
    "LAP004030": "The number of employees exceeded limit.",
    "LAP004040": "Frequent operation of inviting employees via email.",
    "LAP006001": "Adding device failed.",
    "LAP006002": "Unknown device.",
    "LAP006006": "Network exception.",
    "LAP006008": "The device serial No. already exists.",
    "LAP006009": "The device does not exist or no permission is granted.",
    "LAP006011": "The number of decoding devices reached limit.",
    "LAP006012": "Station does not exist.",
    "LAP006013": "No permission. The operator is not the site owner.",
    "LAP006016": "No permission for site operation.",
    "LAP006018": "Do not operate again.",
    "LAP006053": "Editing device...",
    "LAP008000": "Duplicate site name.",
    "LAP008001": "Site does not exist, or user has no permission.",
    "LAP008002": "You cannot edit site information unless you are a site manager.",
    "LAP008004": "Adding site failed.",
    "LAP008006": "Deleting site failed.",
    "LAP008008": "Network error.",
    "LAP008011": "Site management permission required.",
    "LAP008015": "Deleting site failed.",
    "LAP008017": "No permission to operate this resource.",
    "LAP008024": "Incomplete site manager information.",
    "LAP008025": "Only the Installer Admin or site manager can delete the site.",
    "LAP008026": "There are no sites belonging to the Installer Admin or site manager.",
    "LAP008030": "Site time zone are required.",
    "LAP008044": "Not supported operation. The site is not a site handled by sharing.",
    "LAP008077": "No permission.",
    "LAP008081": "The site is already shared.",
    "LAP008082": "The account does not exist or the account is banned.",
    "LAP008087": "The site is currently not shared.",
    "LAP008092": "The sharing credentials do not exist.",
    "LAP008093": "Sharing to your own company is not allowed.",
    "LAP008099": "There are multiple companies of the account to be shared.",
    "LAP008103": "Sharing failed. Make sure the site is not transferred.",
    "LAP008104": "The account does not have site management permissions.",
    "LAP008127": "Site of handover by sharing does not support this operation.",
    "LAP020047": "Synchronizing face picture URL failed.",
    "LAP026338": "Hot spare (host) not added.",
    "LAP026339": "Spare device No. already exists.",
    "LAP026341": "Hot spare file size exceeded limit.",
    "LAP026342": "Uploading hot spare file failed.",
    "LAP030069": "Person synchronization task in progress on the current device.",
    "LAP033005": "Getting token failed.",
    "LAP034000": "No permission for the account to access the device.",
    "LAP034001": "No permission for the account to access the site.",
    "LAP034002": "No permission for the account to access the company.",
    "LAP035001": "Requested resource not found.",
    "LAP000002": "No resource found.",
    "LAP500001": "Service unavailable.",
    "LAP500002": "Open token is empty.",
    "LAP500003": "Invalid format of the open token.",
    "LAP500004": "Open token expired or incorrect (valid for 7 days).",
    "LAP500005": "Verifying the open token failed.",
    "LAP500006": "Getting information failed.",
    "LAP500007": "The number of calling times exceeds limit.",
    "LAP031002": "Uploading picture failed.",
    "LAP031007": "The file is too large.",
    "LAP031008": "Invalid file.",
    "LAP012013": "The employee does not exist.",
    "LAP035004": "Invalid format of the URL of the alarm-related picture.",
    "LAP064001": "The account information is not edited.",
    "LAP064003": "Sharing linkage already exists.",
    "LAP064007": "Duplicate accounts for sharing.",
    "LAP068001": "Other user is in search progress. (When AK and SK are occupied by searching, "
    "concurrent searching and synchronous calling are not supported.)",
    "LAP068002": "Pulling alarms failed.",
    "VMS022554": "Physical resources do not exist.",
    "VMS050034": "Linked device not found.",
    "EVZ10001": "Incorrect parameter.",
    "EVZ10006": "The IP address is restricted.",
    "EVZ10007": "Times of calling reached limit.",
    "EVZ10013": "The application has no permission to call this API.",
    "EVZ10020": "Request method is required.",
    "EVZ10029": "The API calling frequency exceeded limit.",
    "EVZ20001": "The channel does not exist.",
    "EVZ20002": "Device does not exist.",
    "EVZ20006": "Network exception.",
    "EVZ20007": "The device is offline.",
    "EVZ20008": "Device response timed out.",
    "EVZ20010": "Incorrect device verification code.",
    "EVZ20012": "Adding device failed.",
    "EVZ20013": "The device has been added by another account.",
    "EVZ20014": "Incorrect device serial No.",
    "EVZ20015": "The function is not supported by the device.",
    "EVZ20016": "Device is being formatted.",
    "EVZ20017": "The device is already added by yourself.",
    "EVZ20018": "The device is not linked to current account.",
    "EVZ20019": "The device doesn't support cloud storage service.",
    "EVZ20020": "The device is online and has been added by the current account.",
    "EVZ20021": "The device is online and hasn't been added by any account.",
    "EVZ20022": "The device is online and has been added by another account.",
    "EVZ20023": "The device is offline and hasn't been added by any account.",
    "EVZ20024": "The device is offline and has been added by another account.",
    "EVZ20029": "The device is offline and has been added by the current account.",
    "EVZ20609": "Device response timed out. Communication fault or insufficient battery of the door lock. "
    "Please try again.",
    "EVZ49999": "Data exception.",
    "EVZ50000": "Server exception.",
    "EVZ60012": "Unknown error.",
    "EVZ60019": "Encryption enabled.",
    "EVZ60020": "The command is not supported.",
    "EVZ60040": "Hik-Partner Pro is not on the same local network with the device.",
    "EVZ60041": "The device has been linked by another device or device response timed out.",
    "EVZ60042": "Incorrect device password.",
    "EVZ60043": "No more devices can be added.",
    "EVZ60044": "Accessing device network failed.",
    "EVZ60048": "Insufficient bandwidth.",
    "EVZ60050": "Adding device failed. Please upgrade the device first.",
    "EVZ60051": "The device is not supported.",
    "EVZ60052": "Incorrect channel number.",
    "EVZ60053": "Device resolution is not supported.",
    "EVZ60054": "Device account is locked.",
    "EVZ60055": "Streaming error.",
    "EVZ60056": "Deleting the device failed.",
}

# Names for the codes the driver and the simulator act on (all in the table above).
AK_NOT_FOUND = "LAP300001"
AK_SK_MISMATCH = "LAP300002"
ACCOUNT_GONE = "LAP300003"
ACCOUNT_LOCKED = "LAP001005"
PARAMETER_ERROR = "LAP000001"
TOKEN_EMPTY = "LAP500002"
TOKEN_MALFORMED = "LAP500003"
TOKEN_EXPIRED = "LAP500004"
TOKEN_UNVERIFIED = "LAP500005"
CALLS_LIMITED = "LAP500007"
ADD_FAILED = "LAP006001"
UNKNOWN_DEVICE = "LAP006002"
NO_DEVICE = "LAP006009"
SITE_MISSING = "LAP008001"
BAD_PICTURE_PATH = "LAP035004"
QUEUE_BUSY = "LAP068001"
PULL_FAILED = "LAP068002"
DEVICE_OFFLINE = "EVZ20007"
DEVICE_TIMEOUT = "EVZ20008"
WRONG_CODE = "EVZ20010"
OTHER_ACCOUNT = "EVZ20013"
BAD_SERIAL = "EVZ20014"
NOT_BY_DEVICE = "EVZ20015"
ALREADY_ADDED = "EVZ20017"
CHANNEL_MISSING = "EVZ20001"
COMMAND_NOT_SUPPORTED = "EVZ60020"

CREDENTIAL_REJECTED = frozenset({AK_NOT_FOUND, AK_SK_MISMATCH, ACCOUNT_GONE, ACCOUNT_LOCKED})
TOKEN_REJECTED = frozenset({TOKEN_EMPTY, TOKEN_MALFORMED, TOKEN_EXPIRED, TOKEN_UNVERIFIED})
RATE_LIMITED = frozenset({CALLS_LIMITED, "EVZ10007", "EVZ10029"})
NOT_SUPPORTED = frozenset({NOT_BY_DEVICE, COMMAND_NOT_SUPPORTED, "EVZ60051"})


def describe(code: str) -> str:
    """The guide's description of a code, or a plain note that the guide does not list it."""
    return DESCRIPTIONS.get(code) or "a code the guide does not list"


# A.6 Response Codes of Text Protocol: the ISAPI subStatusCode values (with their hex error
# codes) a panel or camera answers through the transparent channel that the driver can meet.
SUB_STATUS: dict[str, tuple[str, str]] = {
    "ok": ("0x1", "Operation completed."),
    "riskPassword": ("0x10000002", "Risky password."),
    "armProcess": ("0x10000005", "Arming process."),
    "noMemory": ("0x20000001", "Insufficient memory."),
    "serviceUnavailable": ("0x20000002", "The service is not available."),
    "upgrading": ("0x20000003", "Upgrading."),
    "deviceBusy": ("0x20000004", "The device is busy or no response."),
    "deviceError": ("0x30000001", "Hardware error."),
    "receiveError": ("0x30000007", "Receive response message failed."),
    "noArmingResource": ("0x30001016", "Insufficient arming resources."),
    "notSupport": ("0x40000001", "Not supported."),
    "lowPrivilege": ("0x40000002", "No permission."),
    "badAuthorization": ("0x40000003", "Authentication failed."),
    "methodNotAllowed": ("0x40000004", "Invalid HTTP method."),
    "invalidOperation": ("0x40000006", "Invalid operation."),
    "operateFailed": ("0x4000000F", "Operation failed."),
    "armingFailed": ("0x40008000", "Arming failed."),
    "disarmingFailed": ("0x40008001", "Disarming failed."),
    "clearAlarmFailed": ("0x40008002", "Clearing alarm failed."),
    "bypassFailed": ("0x40008003", "Bypass failed."),
    "bypassRecoverFailed": ("0x40008004", "Bypass recovery failed."),
    "outputsOpenFailed": ("0x40008005", "Opening relay failed."),
    "outputsCloseFailed": ("0x40008006", "Closing relay failed."),
    "armedStatus": ("0x4000800B", "The partition is armed."),
    "bypassStatus": ("0x4000800C", "Bypassed."),
    "zoneNotSupport": ("0x4000800D", "This operation is not supported by the zone."),
    "zoneFault": ("0x4000800E", "The zone is in fault status."),
    "exDevNotExist": ("0x40008016", "The peripheral does not exist."),
    "inProgramMode": ("0x4000801B", "The keypad is in programming mode."),
    "arming": ("0x4000801D", "Arming."),
    "badXmlFormat": ("0x50000001", "Invalid XML format."),
    "badParameters": ("0x60000001", "Invalid parameter."),
    "badXmlContent": ("0x60000003", "Invalid XML content."),
    "rebootRequired": ("0x70000001", "Reboot to take effect."),
}
# A.5.27: statusCode values of a ResponseStatus (0 and 1 are OK).
STATUS_TEXT = {
    0: "OK",
    1: "OK",
    2: "Device Busy",
    3: "Device Error",
    4: "Invalid Operation",
    5: "Invalid XML Format",
    6: "Invalid XML Content",
    7: "Reboot Required",
    9: "Additional Error",
}
