"""The mailbox behind the EWS test server, and the SOAP operations on it, shaped as Microsoft documents them.

Operations: GetFolder, FindFolder, CreateFolder, FindItem (IndexedPageItemView paging, an IsEqualTo restriction
on message:InternetMessageId, SortOrder on DateTimeReceived), GetItem (MimeContent in base64, size, received
time, headers), MoveItem (a new ItemId in the target folder, as Exchange does), CreateItem (SendOnly,
SendAndSaveCopy, SaveOnly from MimeContent), DeleteItem and ConvertId (what exchangelib sends to learn the version).
Item ids are long, mixed-case and change when an item is moved, like Exchange's.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
NOT_FOUND = "The specified object was not found in the store."
EXISTS = "A folder with the same name already exists."
NO_FOLDER = "The destination folder could not be found."
DISTINGUISHED = {"msgfolderroot": "Top of Information Store", "inbox": "Inbox", "sentitems": "Sent Items"}


def new_id(prefix: str = "AAMkAD") -> str:
    """An id the way Exchange's look: long, base64, case-sensitive."""
    return prefix + base64.b64encode(secrets.token_bytes(96)).decode()


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None
    distinguished: str | None = None
    changekey: str = field(default_factory=lambda: new_id("AQAAAB"))


@dataclass
class Item:
    id: str
    folder: str
    mime: bytes
    received: dt.datetime
    changekey: str = field(default_factory=lambda: new_id("CQAAAB"))
    mime_broken: bool = False  # GetItem of its MimeContent fails with ErrorMimeContentConversionFailed

    @property
    def headers(self) -> email.message.Message:
        return email.message_from_bytes(self.mime.partition(b"\r\n\r\n")[0], policy=email.policy.compat32)

    @property
    def message_id(self) -> str:
        return str(self.headers.get("Message-ID", "")).strip()


class Store:
    """Folders and items of one mailbox; every operation holds the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.sent: list[tuple[str, bytes]] = []  # (disposition, MIME) of every message sent
        root = self._add_folder("Root", None, "root")
        top = self._add_folder(DISTINGUISHED["msgfolderroot"], root.id, "msgfolderroot")
        for name in ("inbox", "sentitems"):
            self._add_folder(DISTINGUISHED[name], top.id, name)

    def _add_folder(self, name: str, parent: str | None, distinguished: str | None = None) -> Folder:
        folder = Folder(new_id("AAMkAF"), name, parent, distinguished)
        self.folders[folder.id] = folder
        return folder

    def distinguished(self, name: str) -> Folder | None:
        return next((f for f in self.folders.values() if f.distinguished == name), None)

    def folder_named(self, path: str) -> Folder | None:
        """'Inbox', or a folder under the top of the information store by display name."""
        with self.lock:
            top = self.distinguished("msgfolderroot")
            return next((f for f in self.folders.values() if f.parent == top.id and f.name == path), None)  # type: ignore[union-attr]

    def deliver(self, raw: bytes, received: dt.datetime, *, folder: str = "Inbox", mime_broken: bool = False) -> str:
        with self.lock:
            target = self.folder_named(folder) or self.distinguished("inbox")
            assert target is not None
            item = Item(new_id(), target.id, raw, received.astimezone(dt.UTC), mime_broken=mime_broken)
            self.items[item.id] = item
            return item.id

    def in_folder(self, name: str) -> list[Item]:
        with self.lock:
            folder = self.folder_named(name)
            return [] if folder is None else [i for i in self.items.values() if i.folder == folder.id]

    def delete_folder(self, name: str) -> None:
        """A person deletes a folder (and what is in it), e.g. Processed."""
        with self.lock:
            folder = self.folder_named(name)
            if folder is not None:
                del self.folders[folder.id]
                self.items = {k: v for k, v in self.items.items() if v.folder != folder.id}


# ---------------------------------------------------------------------------------------------- the operations


class Soap:
    """Turns one request body element into the inner XML of its response (a string of <m:...Response>)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.hidden: set[str] = set()  # folder names another client creates between our FindFolder and CreateFolder

    def handle(self, request: ET.Element) -> str:
        name = request.tag.rpartition("}")[2]
        operation: Callable[[ET.Element], str] | None = getattr(self, f"op_{name}", None)
        if operation is None:
            return _response(name, [_error(name, "ErrorInvalidRequest", f"{name} is not supported here")])
        with self.store.lock:
            return operation(request)

    # --- folders

    def _folder_ref(self, element: ET.Element) -> Folder | None:
        if element.tag == f"{{{T}}}DistinguishedFolderId":
            return self.store.distinguished(element.get("Id", ""))
        return self.store.folders.get(element.get("Id", ""))

    def _refs(self, request: ET.Element, container: str) -> list[ET.Element]:
        holder = request.find(f"{{{M}}}{container}")
        return [] if holder is None else list(holder)

    def op_GetFolder(self, request: ET.Element) -> str:
        messages = []
        for ref in self._refs(request, "FolderIds"):
            folder = self._folder_ref(ref)
            if folder is None:
                messages.append(_error("GetFolder", "ErrorFolderNotFound", "The specified folder could not be found."))
            else:
                messages.append(_ok("GetFolder", f"<m:Folders>{self._folder_xml(folder)}</m:Folders>"))
        return _response("GetFolder", messages)

    def _folder_xml(self, folder: Folder) -> str:
        children = sum(1 for f in self.store.folders.values() if f.parent == folder.id)
        count = sum(1 for i in self.store.items.values() if i.folder == folder.id)
        parent = self.store.folders.get(folder.parent or "")
        parent_xml = "" if parent is None else f"<t:ParentFolderId Id={quoteattr(parent.id)}/>"
        return (
            f"<t:Folder><t:FolderId Id={quoteattr(folder.id)} ChangeKey={quoteattr(folder.changekey)}/>"
            f"{parent_xml}<t:FolderClass>IPF.Note</t:FolderClass>"
            f"<t:DisplayName>{escape(folder.name)}</t:DisplayName><t:TotalCount>{count}</t:TotalCount>"
            f"<t:ChildFolderCount>{children}</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder>"
        )

    def op_FindFolder(self, request: ET.Element) -> str:
        messages = []
        offset, limit = _page(request, "IndexedPageFolderView")
        for ref in self._refs(request, "ParentFolderIds"):
            parent = self._folder_ref(ref)
            if parent is None:
                messages.append(_error("FindFolder", "ErrorFolderNotFound", "The specified folder could not be found."))
                continue
            children = sorted((f for f in self.store.folders.values() if f.parent == parent.id), key=lambda f: f.name)
            page = children[offset : offset + limit]
            last = offset + len(page) >= len(children)
            body = "".join(self._folder_xml(f) for f in page)
            root = (
                f'<m:RootFolder IndexedPagingOffset="{offset + len(page)}" TotalItemsInView="{len(children)}"'
                f' IncludesLastItemInRange="{str(last).lower()}"><t:Folders>{body}</t:Folders></m:RootFolder>'
            )
            messages.append(_ok("FindFolder", root))
        return _response("FindFolder", messages)

    def op_CreateFolder(self, request: ET.Element) -> str:
        parent_ref = self._refs(request, "ParentFolderId")
        parent = self._folder_ref(parent_ref[0]) if parent_ref else None
        messages = []
        for new in self._refs(request, "Folders"):
            name = new.findtext(f"{{{T}}}DisplayName", "")
            if parent is not None and name in self.hidden:  # the other client's creation lands first
                self.hidden.discard(name)
                self.store._add_folder(name, parent.id)
            if parent is None:
                messages.append(_error("CreateFolder", "ErrorFolderNotFound", "The parent folder could not be found."))
            elif any(f.parent == parent.id and f.name.lower() == name.lower() for f in self.store.folders.values()):
                messages.append(_error("CreateFolder", "ErrorFolderExists", EXISTS))
            else:
                folder = self.store._add_folder(name, parent.id)
                ref = f"<t:FolderId Id={quoteattr(folder.id)} ChangeKey={quoteattr(folder.changekey)}/>"
                messages.append(_ok("CreateFolder", f"<m:Folders><t:Folder>{ref}</t:Folder></m:Folders>"))
        return _response("CreateFolder", messages)

    # --- items

    def op_FindItem(self, request: ET.Element) -> str:
        fields = _fields(request)
        offset, limit = _page(request, "IndexedPageItemView")
        wanted = _message_id_restriction(request)
        descending = request.find(f".//{{{M}}}SortOrder/{{{T}}}FieldOrder[@Order='Descending']") is not None
        messages = []
        for ref in self._refs(request, "ParentFolderIds"):
            folder = self._folder_ref(ref)
            if folder is None:
                messages.append(_error("FindItem", "ErrorFolderNotFound", "The specified folder could not be found."))
                continue
            found = [i for i in self.store.items.values() if i.folder == folder.id]
            if wanted is not None:
                found = [i for i in found if i.message_id == wanted]
            found.sort(key=lambda i: (i.received, i.id), reverse=descending)
            page = found[offset : offset + limit]
            last = offset + len(page) >= len(found)
            body = "".join(_item_xml(i, fields) for i in page)
            root = (
                f'<m:RootFolder IndexedPagingOffset="{offset + len(page)}" TotalItemsInView="{len(found)}"'
                f' IncludesLastItemInRange="{str(last).lower()}"><t:Items>{body}</t:Items></m:RootFolder>'
            )
            messages.append(_ok("FindItem", root))
        return _response("FindItem", messages)

    def op_GetItem(self, request: ET.Element) -> str:
        fields = _fields(request)
        if request.findtext(f".//{{{T}}}IncludeMimeContent", "false") == "true":
            fields.add("item:MimeContent")
        messages = []
        for ref in self._refs(request, "ItemIds"):
            item = self.store.items.get(ref.get("Id", ""))
            if item is None:
                messages.append(_error("GetItem", "ErrorItemNotFound", NOT_FOUND))
            elif item.mime_broken and "item:MimeContent" in fields:
                text = "Unable to convert the message to MIME content."
                messages.append(_error("GetItem", "ErrorMimeContentConversionFailed", text))
            else:
                messages.append(_ok("GetItem", f"<m:Items>{_item_xml(item, fields)}</m:Items>"))
        return _response("GetItem", messages)

    def op_MoveItem(self, request: ET.Element) -> str:
        target_ref = self._refs(request, "ToFolderId")
        target = self._folder_ref(target_ref[0]) if target_ref else None
        messages = []
        for ref in self._refs(request, "ItemIds"):
            item = self.store.items.get(ref.get("Id", ""))
            if target is None:
                messages.append(_error("MoveItem", "ErrorToFolderNotFound", NO_FOLDER))
            elif item is None:
                messages.append(_error("MoveItem", "ErrorItemNotFound", NOT_FOUND))
            else:
                del self.store.items[item.id]
                item.id, item.folder, item.changekey = new_id(), target.id, new_id("CQAAAB")
                self.store.items[item.id] = item
                messages.append(_ok("MoveItem", f"<m:Items>{_item_xml(item, set())}</m:Items>"))
        return _response("MoveItem", messages)

    def op_DeleteItem(self, request: ET.Element) -> str:
        messages = []
        for ref in self._refs(request, "ItemIds"):
            if self.store.items.pop(ref.get("Id", ""), None) is None:
                messages.append(_error("DeleteItem", "ErrorItemNotFound", NOT_FOUND))
            else:
                messages.append(_ok("DeleteItem", ""))
        return _response("DeleteItem", messages)

    def op_CreateItem(self, request: ET.Element) -> str:
        disposition = request.get("MessageDisposition", "SaveOnly")
        saved = self._refs(request, "SavedItemFolderId")
        folder = self._folder_ref(saved[0]) if saved else self.store.distinguished("sentitems")
        messages = []
        for element in self._refs(request, "Items"):
            mime = element.findtext(f"{{{T}}}MimeContent")
            if not mime or folder is None:
                messages.append(_error("CreateItem", "ErrorInvalidRequest", "Only MIME content is supported here."))
                continue
            raw = base64.b64decode(mime)
            if disposition != "SaveOnly":
                self.store.sent.append((disposition, raw))
            if disposition == "SendOnly":
                messages.append(_ok("CreateItem", "<m:Items/>"))
                continue
            item = Item(new_id(), folder.id, raw, dt.datetime.now(dt.UTC))
            self.store.items[item.id] = item
            shown = "" if disposition == "SendAndSaveCopy" else _item_xml(item, set())  # sent: no id comes back
            messages.append(_ok("CreateItem", f"<m:Items>{shown}</m:Items>"))
        return _response("CreateItem", messages)

    def op_ConvertId(self, request: ET.Element) -> str:
        text = "Id is malformed."
        return _response("ConvertId", [_error("ConvertId", "ErrorInvalidIdMalformed", text)])


# ---------------------------------------------------------------------------------------------- XML pieces


def _response(name: str, messages: list[str]) -> str:
    return f"<m:{name}Response><m:ResponseMessages>{''.join(messages)}</m:ResponseMessages></m:{name}Response>"


def _ok(name: str, inner: str) -> str:
    return (
        f'<m:{name}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{name}ResponseMessage>"
    )


def _error(name: str, code: str, text: str) -> str:
    return (
        f'<m:{name}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(text)}</m:MessageText>'
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{name}ResponseMessage>"
    )


def _page(request: ET.Element, view: str) -> tuple[int, int]:
    element = request.find(f"{{{M}}}{view}")
    if element is None:
        return 0, 1000
    return int(element.get("Offset", "0")), int(element.get("MaxEntriesReturned", "1000"))


def _fields(request: ET.Element) -> set[str]:
    return {f.get("FieldURI", "") for f in request.iterfind(f".//{{{T}}}AdditionalProperties/{{{T}}}FieldURI")}


def _message_id_restriction(request: ET.Element) -> str | None:
    equal = request.find(f"{{{M}}}Restriction/{{{T}}}IsEqualTo")
    if equal is None:
        return None
    uri = equal.find(f"{{{T}}}FieldURI")
    constant = equal.find(f"{{{T}}}FieldURIOrConstant/{{{T}}}Constant")
    if uri is None or uri.get("FieldURI") != "message:InternetMessageId" or constant is None:
        raise ValueError("only an IsEqualTo restriction on message:InternetMessageId is supported")
    return constant.get("Value", "")


def _item_xml(item: Item, fields: set[str]) -> str:
    parts = []
    if "item:MimeContent" in fields:
        parts.append(f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(item.mime).decode()}</t:MimeContent>')
    parts.append(f"<t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)}/>")
    if "item:Subject" in fields:
        parts.append(f"<t:Subject>{escape(str(item.headers.get('Subject', '')))}</t:Subject>")
    if "item:DateTimeReceived" in fields:
        parts.append(f"<t:DateTimeReceived>{item.received.strftime('%Y-%m-%dT%H:%M:%SZ')}</t:DateTimeReceived>")
    if "item:Size" in fields:
        parts.append(f"<t:Size>{len(item.mime)}</t:Size>")
    if "item:InternetMessageHeaders" in fields:
        headers = "".join(
            f"<t:InternetMessageHeader HeaderName={quoteattr(k)}>{escape(str(v))}</t:InternetMessageHeader>"
            for k, v in item.headers.items()
        )
        parts.append(f"<t:InternetMessageHeaders>{headers}</t:InternetMessageHeaders>")
    if "message:InternetMessageId" in fields:
        parts.append(f"<t:InternetMessageId>{escape(item.message_id)}</t:InternetMessageId>")
    return f"<t:Message>{''.join(parts)}</t:Message>"
