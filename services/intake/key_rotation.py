"""Re-encrypting the stored ID numbers under the current key (``python -m services.cli reencrypt``).

After a new key is put first in ``ID_NUMBER_KEYS`` new registrations are sealed with it and old
tokens stay readable; this moves the old ones too, so the retired key can then be removed. It
walks intake's cases in case-number order, one transaction per batch (each batch's rows locked
while they are rewritten, so a failure leaves whole batches done), and leaves tokens already
under the current key untouched: running it again changes nothing.
"""

from collections import Counter
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import dict_row

from services.intake import store
from services.intake.personal_data import IdNumberCipher

BATCH_SIZE = 500


@dataclass
class Reencryption:
    """What a run did: tokens moved to the current key, by the key they were under, and those
    already current."""

    current_key_id: str
    moved: Counter = field(default_factory=Counter)
    already_current: int = 0
    batches: int = 0

    def lines(self) -> list[str]:
        """The counts, as the command prints them."""
        moved = ", ".join(f"{n} from {key}" for key, n in sorted(self.moved.items())) or "none"
        return [
            f"re-encrypted under {self.current_key_id}: {sum(self.moved.values())} ({moved})",
            f"already under {self.current_key_id}: {self.already_current}",
            f"batches: {self.batches}",
        ]


def reencrypt_id_numbers(
    database_url: str, cipher: IdNumberCipher, batch_size: int = BATCH_SIZE
) -> Reencryption:
    """Seal every stored ID number with ``cipher``'s current key, ``batch_size`` cases per
    transaction; returns the counts."""
    result = Reencryption(cipher.current_key_id)
    after = ""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        while True:
            with conn.transaction(), conn.cursor() as cur:
                rows = store.id_number_ciphers_for_update(cur, after, batch_size)
                if not rows:
                    return result
                replaced = {}
                for row in rows:
                    token = row["id_number_cipher"]
                    if cipher.is_current(token):
                        result.already_current += 1
                    else:
                        replaced[row["case_no"]] = cipher.reencrypt(token)
                        result.moved[IdNumberCipher.key_id(token)] += 1
                store.replace_id_number_ciphers(cur, replaced)
                result.batches += 1
                after = rows[-1]["case_no"]
