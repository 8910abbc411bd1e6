"""disk.* methods and the two methods that describe the webhook itself (scope, profile)."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from b24sync_emulators.bitrix24.portal import ApiError, MethodResult, Portal
from b24sync_emulators.bitrix24.registry import arg, method, paginate


def _object_id(params: dict[str, Any]) -> int:
    value = arg(params, "id")
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise ApiError(400, "ERROR_ARGUMENT", "Invalid value of parameter {Parameter #0}") from None
    if number <= 0:
        raise ApiError(400, "ERROR_ARGUMENT", "Invalid value of parameter {Parameter #0}")
    return number


def _not_found(object_id: Any) -> ApiError:
    return ApiError(400, "ERROR_NOT_FOUND", f"Could not find entity with id `{object_id}`")


def _as_child(record: dict[str, Any]) -> dict[str, Any]:
    """Children listings show every number as a string, and DELETED_BY "0" for objects never deleted."""
    child = {key: (str(value) if isinstance(value, int) and not isinstance(value, bool) else value)
             for key, value in record.items()}
    if child.get("DELETED_BY") is None:
        child["DELETED_BY"] = "0"
    return child


@method("scope", scope=None)
def scope(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return MethodResult(sorted(portal.scopes))


@method("profile", scope=None)
def profile(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return MethodResult({"ID": str(portal.webhook_user), "ADMIN": True, "NAME": "Администратор",
                         "LAST_NAME": "Портала", "PERSONAL_GENDER": "", "TIME_ZONE": "", "TIME_ZONE_OFFSET": 10800})


@method("disk.storage.getlist", scope="disk")
def storage_getlist(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return paginate([dict(storage) for storage in portal.storages.values()], params)


def _children(portal: Portal, folder_id: int, params: dict[str, Any]) -> MethodResult:
    rows = [_as_child(folder) for folder in portal.folders.values() if folder["PARENT_ID"] == str(folder_id)]
    rows += [_as_child(record) for record in portal.files.values() if record["PARENT_ID"] == str(folder_id)]
    rows.sort(key=lambda row: (row["TYPE"] != "folder", row["NAME"]))
    return paginate(rows, params)


@method("disk.storage.getchildren", scope="disk")
def storage_getchildren(portal: Portal, params: dict[str, Any]) -> MethodResult:
    storage_id = _object_id(params)
    storage = portal.storages.get(storage_id)
    if storage is None:
        raise _not_found(storage_id)
    return _children(portal, int(storage["ROOT_OBJECT_ID"]), params)


@method("disk.folder.getchildren", scope="disk")
def folder_getchildren(portal: Portal, params: dict[str, Any]) -> MethodResult:
    folder_id = _object_id(params)
    if folder_id not in portal.folders:
        raise _not_found(folder_id)
    return _children(portal, folder_id, params)


def _add_folder(portal: Portal, parent_id: int, params: dict[str, Any]) -> MethodResult:
    data = arg(params, "data") or {}
    name = str(data.get("NAME") or "").strip() if isinstance(data, dict) else ""
    if not name:
        raise ApiError(400, "DISK_BASE_SERVICE_22001", "Error: required parameter NAME")
    parent = portal.folders[parent_id]
    for folder in portal.folders.values():
        if folder["PARENT_ID"] == str(parent_id) and folder["NAME"].lower() == name.lower():
            # believed: a name clash is refused by Disk's object validation
            raise ApiError(400, "DISK_OBJ_22000", "Объект с таким именем уже существует")
    folder_id = portal._new_folder(name, int(parent["STORAGE_ID"]), parent_id)
    created = dict(portal.folders[folder_id])
    # a write answer carries numbers as numbers (as disk.folder.addsubfolder's documented answer shows)
    created.update({"ID": folder_id, "REAL_OBJECT_ID": folder_id, "DELETED_TYPE": 0, "DELETED_BY": None})
    return MethodResult(created)


@method("disk.storage.addfolder", scope="disk", writes=True)
def storage_addfolder(portal: Portal, params: dict[str, Any]) -> MethodResult:
    storage_id = _object_id(params)
    storage = portal.storages.get(storage_id)
    if storage is None:
        raise _not_found(storage_id)
    return _add_folder(portal, int(storage["ROOT_OBJECT_ID"]), params)


@method("disk.folder.addsubfolder", scope="disk", writes=True)
def folder_addsubfolder(portal: Portal, params: dict[str, Any]) -> MethodResult:
    folder_id = _object_id(params)
    if folder_id not in portal.folders:
        raise _not_found(folder_id)
    return _add_folder(portal, folder_id, params)


def unique_name(portal: Portal, folder_id: int, name: str, generate: bool) -> str:
    taken = {record["NAME"].lower() for record in portal.files.values() if record["PARENT_ID"] == str(folder_id)}
    taken |= {folder["NAME"].lower() for folder in portal.folders.values() if folder["PARENT_ID"] == str(folder_id)}
    if name.lower() not in taken:
        return name
    if not generate:
        # believed: without generateUniqueName a clash is an error
        raise ApiError(400, "DISK_OBJ_22000", f"Объект с именем «{name}» уже существует в этой папке")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    counter = 1
    while True:
        candidate = f"{stem} ({counter})" + (f".{extension}" if extension else "")
        if candidate.lower() not in taken:
            return candidate
        counter += 1


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "y", "true")


def upload(portal: Portal, folder_id: int, params: dict[str, Any]) -> MethodResult:
    data = arg(params, "data") or {}
    name = str(data.get("NAME") or "").strip() if isinstance(data, dict) else ""
    content = arg(params, "fileContent")
    generate = _flag(arg(params, "generateUniqueName", False))
    if content in (None, "", []):
        # The two-step flow: hand out an upload URL; the file comes as multipart to it.
        token = secrets.token_urlsafe(24)
        portal.pending_uploads[token] = {"folder": folder_id, "name": name, "generate": generate}
        return MethodResult({"field": "file", "uploadUrl": f"{portal.root_url}/rest/upload.json?"
                                                           f"auth={portal.webhook_code}&token=disk%7C{token}"})
    pair = list(content.values()) if isinstance(content, dict) else content
    if not isinstance(pair, list) or len(pair) < 2:
        raise ApiError(400, "ERROR_ARGUMENT", "Invalid value of parameter {fileContent}")
    if not name:
        raise ApiError(400, "DISK_BASE_SERVICE_22001", "Error: required parameter NAME")
    try:
        raw = base64.b64decode(str(pair[1]), validate=False)
    except (binascii.Error, ValueError):
        raise ApiError(400, "ERROR_COULD_NOT_SAVE_FILE", "Could not save file") from None
    return MethodResult(portal.store_file(unique_name(portal, folder_id, name, generate), raw, folder_id))


def finish_upload(portal: Portal, token: str, filename: str, content: bytes) -> dict[str, Any]:
    """The second step of the two-step upload: the multipart POST to uploadUrl."""
    pending = portal.pending_uploads.pop(token, None)
    if pending is None:
        raise ApiError(400, "ERROR_ARGUMENT", "Invalid token")
    name = pending["name"] or filename
    return portal.store_file(unique_name(portal, pending["folder"], name, pending["generate"]), content,
                             pending["folder"])


@method("disk.folder.uploadfile", scope="disk", writes=True, batchable=False)
def folder_uploadfile(portal: Portal, params: dict[str, Any]) -> MethodResult:
    if arg(params, "id") in (None, ""):
        raise ApiError(400, "ERROR_ARGUMENT", "Invalid value of parameter {Parameter #0}")
    folder_id = _object_id(params)
    if folder_id not in portal.folders:
        raise _not_found(folder_id)
    return upload(portal, folder_id, params)


@method("disk.storage.uploadfile", scope="disk", writes=True, batchable=False)
def storage_uploadfile(portal: Portal, params: dict[str, Any]) -> MethodResult:
    storage_id = _object_id(params)
    storage = portal.storages.get(storage_id)
    if storage is None:
        raise _not_found(storage_id)
    return upload(portal, int(storage["ROOT_OBJECT_ID"]), params)


@method("disk.file.get", scope="disk")
def file_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    file_id = _object_id(params)
    record = portal.files.get(file_id)
    if record is None:
        raise _not_found(file_id)
    return MethodResult(dict(record))


@method("disk.file.getexternallink", scope="disk")
def file_external_link(portal: Portal, params: dict[str, Any]) -> MethodResult:
    file_id = _object_id(params)
    if file_id not in portal.files:
        raise _not_found(file_id)
    token = next((token for token, linked in portal.external_links.items() if linked == file_id), None)
    if token is None:  # links are stable: the same file always gets the same link
        token = secrets.token_urlsafe(4)[:5]
        portal.external_links[token] = file_id
    return MethodResult(f"{portal.root_url}/~{token}")
