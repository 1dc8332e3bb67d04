"""The words that tell what a number next to them is: a phone, an order or product number,
a tracking number or a postal code. Lower case, without accents (text is compared folded).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

from slychat.moderation.normalize import fold


class Label(enum.Enum):
    PHONE = "phone"
    CODE = "code"  # order, invoice, reference, product and model numbers
    TRACKING = "tracking"
    POSTAL = "postal"


def alternatives(words: Iterable[str]) -> str:
    """A regular expression matching any of the words (folded), the longest first."""
    folded = {fold(word) for word in words}
    return "(?:" + "|".join(sorted(map(re.escape, folded), key=len, reverse=True)) + ")"


def word_set(text: str) -> frozenset[str]:
    """The words of `text` (separated by spaces), folded as the detectors compare them."""
    return frozenset(fold(word) for word in text.split())


PHONE = word_set(
    # English, Spanish, French, German, Portuguese, Italian, Dutch, Russian, Arabic, Hindi.
    "call phone tel telephone mobile mob cell cellphone text sms whatsapp whatsap wa"
    " viber signal telegram ring dial reach contact fax hotline landline ph"
    " movil celular telefono llama llamame whats"
    " appelle appelez appelle-moi portable"
    " anrufen ruf handy telefon telefonnummer"
    " ligue liga ligar zap zapzap"
    " chiama chiamami cellulare"
    " bel mobiel"
    " телефон тел звони позвони звоните ватсап вотсап"
    " اتصل هاتف جوال موبايل واتساب واتس"
    " फोन"
)
CODE = word_set(
    "order orders ord invoice inv receipt ref reference booking reservation ticket case"
    " transaction txn sku model part item article art serial sn imei ean upc isbn gtin asin"
    " barcode product lot batch"
    " pedido factura referencia modelo articulo"
    " commande facture reference modele"
    " bestellung bestellnummer rechnung artikel artikelnummer modell"
    " encomenda fatura"
    " ordine fattura articolo modello"
    " bestelling factuur"
    " заказ заказа артикул счет модель"
    " طلب فاتورة"
)
TRACKING = word_set(
    "tracking track trace awb waybill shipment consignment parcel package"
    " sendung sendungsnummer paket seguimiento envio suivi colis rastreio rastreamento"
    " spedizione tracciamento pakket трек посылка"
)
POSTAL = word_set(
    "zip zipcode postcode postal plz cep cp pin pincode postleitzahl postale codigo индекс 〒"
)
# Words between a label and its number: "order number is #", "my phone no. is".
FILLER = word_set(
    "is are was my our your his her the a an me us it its at on to of for in here there"
    " id code es est ist e de da do du del la le el"
    " mi mon ma mes meu minha mio mia mein meine mijn мой это"
)
# "number" alone says phone ("my number is"), after "order" it says order number.
NUMBER = word_set("number num no nr numero nummer nombre номер رقم नंबर")


def label_of(word: str) -> Label | None:
    if word in PHONE:
        return Label.PHONE
    if word in CODE:
        return Label.CODE
    if word in TRACKING:
        return Label.TRACKING
    if word in POSTAL:
        return Label.POSTAL
    return None
