"""The inventory service of app_fastapi.py, on pronghorn: only the imports changed.

app_pronghorn.py is this file with only the imports changed; test_port.py
runs the same tests against both.
"""

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Optional

from pronghorn import (
    APIRouter,
    BackgroundTasks,
    Body,
    Depends,
    Pronghorn as FastAPI,
    Header,
    HTTPException,
    Path,
    Query,
    Response,
    status,
)
from pronghorn.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

# ---- storage ------------------------------------------------------------------------------


class Database:
    def __init__(self):
        self.items: dict[int, dict] = {}
        self.next_id = 1
        self.audit: list[str] = []
        self.sessions = {"opened": 0, "closed": 0, "rolled_back": 0}


db = Database()


def reset():
    global db
    db = Database()
    return db


def get_db():
    session = db
    session.sessions["opened"] += 1
    try:
        yield session
    except HTTPException:
        session.sessions["rolled_back"] += 1
        raise
    finally:
        session.sessions["closed"] += 1


# ---- models -------------------------------------------------------------------------------


class Category(str, Enum):
    tools = "tools"
    food = "food"
    toys = "toys"


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    price: float = Field(gt=0, description="Unit price in euros")
    quantity: int = Field(default=0, ge=0)
    category: Category = Category.tools
    tags: list[str] = []


class ItemOut(BaseModel):
    id: int
    name: str
    price: float
    quantity: int
    category: Category
    tags: list[str]
    owner: str


class ItemPatch(BaseModel):
    name: Optional[str] = Field(default=None, min_length=1, max_length=50)
    price: Optional[float] = Field(default=None, gt=0)
    quantity: Optional[int] = Field(default=None, ge=0)


class Restock(BaseModel):
    amount: int = Field(gt=0, le=1000)
    reason: str = "restock"


# ---- dependencies -------------------------------------------------------------------------

TOKENS = {"token-ann": "ann", "token-bob": "bob"}
bearer = HTTPBearer()


def current_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    user = TOKENS.get(credentials.credentials)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid token",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def pagination(offset: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=50)] = 10):
    return {"offset": offset, "limit": limit}


def request_id(x_request_id: Annotated[Optional[str], Header()] = None):
    return x_request_id or "-"


User = Annotated[str, Depends(current_user)]
Session = Annotated[Database, Depends(get_db)]


def load_item(item_id: Annotated[int, Path(ge=1)], session: Session) -> dict:
    item = session.items.get(item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Item {item_id} not found")
    return item


# ---- routes -------------------------------------------------------------------------------

app = FastAPI(title="Inventory", version="1.0")
router = APIRouter(prefix="/items", tags=["items"], dependencies=[Depends(request_id)])


def write_audit(session: Database, line: str):
    session.audit.append(line)


@router.post("", response_model=ItemOut, status_code=status.HTTP_201_CREATED)
def create_item(item: ItemIn, user: User, session: Session, tasks: BackgroundTasks,
                response: Response):
    if any(existing["name"] == item.name for existing in session.items.values()):
        raise HTTPException(status.HTTP_409_CONFLICT, f"An item named {item.name!r} exists")
    stored = {"id": session.next_id, **item.model_dump(), "owner": user, "secret": "internal"}
    session.items[stored["id"]] = stored
    session.next_id += 1
    response.headers["Location"] = f"/items/{stored['id']}"
    tasks.add_task(write_audit, session, f"{user} created {stored['id']}")
    return stored


@router.get("", response_model=list[ItemOut])
async def list_items(
    session: Session,
    page: Annotated[dict, Depends(pagination)],
    category: Optional[Category] = None,
    q: Annotated[Optional[str], Query(min_length=2, max_length=20)] = None,
    tag: Annotated[list[str], Query()] = [],
    min_price: Annotated[Optional[float], Query(ge=0)] = None,
):
    found = list(session.items.values())
    if category is not None:
        found = [item for item in found if item["category"] == category]
    if q is not None:
        found = [item for item in found if q.lower() in item["name"].lower()]
    if tag:
        found = [item for item in found if set(tag) <= set(item["tags"])]
    if min_price is not None:
        found = [item for item in found if item["price"] >= min_price]
    return found[page["offset"]:page["offset"] + page["limit"]]


@router.get("/{item_id}", response_model=ItemOut)
def read_item(item: Annotated[dict, Depends(load_item)]):
    return item


@router.patch("/{item_id}", response_model=ItemOut)
def update_item(patch: ItemPatch, item: Annotated[dict, Depends(load_item)], user: User):
    if item["owner"] != user:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not your item")
    item.update(patch.model_dump(exclude_unset=True))
    return item


@router.post("/{item_id}/restock", response_model=ItemOut)
def restock(item: Annotated[dict, Depends(load_item)], user: User,
            restock: Annotated[Restock, Body(embed=True)], note: str = Body("")):
    item["quantity"] += restock.amount
    return item


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item: Annotated[dict, Depends(load_item)], user: User, session: Session):
    if item["owner"] != user:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not your item")
    del session.items[item["id"]]


@app.get("/health")
def health(session: Session):
    return {"status": "ok", "items": len(session.items),
            "time": datetime(2024, 1, 1, tzinfo=timezone.utc).isoformat()}


@app.get("/stats/{category}")
def stats(category: Category, session: Session,
          x_currency: Annotated[str, Header(pattern="^[A-Z]{3}$")] = "EUR"):
    prices = [item["price"] for item in session.items.values()
              if item["category"] == category]
    return {"category": category, "count": len(prices), "total": sum(prices),
            "currency": x_currency}


app.include_router(router)
