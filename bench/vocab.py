"""Word lists the generator draws from: countries with their languages and cities, agency kinds with their
names in several languages, event types, themes, roles. Synthetic data: the names are plausible, not real."""

from __future__ import annotations

BASE = "https://w3id.org/thb-kb/"
ID = BASE + "id/"
CONCEPT = ID + "concept/"
COUNTRY = "http://publications.europa.eu/resource/authority/country/"

# code -> (English name, language of the country's own names, cities)
COUNTRIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "TUR": ("Türkiye", "tr", ("Ankara", "İstanbul", "İzmir", "Edirne", "Van", "Muğla", "Mersin", "Çanakkale")),
    "PRT": ("Portugal", "pt", ("Lisboa", "Porto", "Faro", "Coimbra", "Braga")),
    "FRA": ("France", "fr", ("Paris", "Marseille", "Lyon", "Calais", "Nice", "Strasbourg")),
    "BEL": ("Belgium", "fr", ("Bruxelles", "Liège", "Namur", "Charleroi")),
    "ESP": ("Spain", "es", ("Madrid", "Barcelona", "Algeciras", "Sevilla", "Málaga")),
    "ITA": ("Italy", "it", ("Roma", "Palermo", "Lampedusa", "Bari", "Milano")),
    "GRC": ("Greece", "el", ("Athína", "Thessaloníki", "Lésvos", "Pátra")),
    "DEU": ("Germany", "de", ("Berlin", "München", "Köln", "Hamburg")),
    "AUT": ("Austria", "de", ("Wien", "Graz", "Linz")),
    "ROU": ("Romania", "ro", ("București", "Cluj-Napoca", "Timișoara")),
    "BGR": ("Bulgaria", "bg", ("Sofia", "Plovdiv", "Burgas")),
    "HRV": ("Croatia", "hr", ("Zagreb", "Split", "Rijeka")),
    "NLD": ("Netherlands", "nl", ("Amsterdam", "Rotterdam", "Den Haag")),
    "POL": ("Poland", "pl", ("Warszawa", "Kraków", "Gdańsk")),
    "MAR": ("Morocco", "fr", ("Rabat", "Tanger", "Casablanca")),
    "SRB": ("Serbia", "sr", ("Beograd", "Novi Sad", "Niš")),
}

# slug, English, agency-type concept, names in other languages
AGENCY_KINDS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("coast-guard", "Coast Guard Command", "coast-guard",
     {"tr": "Sahil Güvenlik Komutanlığı", "fr": "Commandement des garde-côtes", "pt": "Comando da Guarda Costeira",
      "es": "Mando de Guardacostas", "it": "Comando della Guardia Costiera", "el": "Λιμενικό Σώμα",
      "de": "Küstenwachkommando"}),
    ("migration-management", "Directorate of Migration Management", "migration-authority",
     {"tr": "Göç İdaresi Müdürlüğü", "fr": "Direction de la gestion des migrations",
      "pt": "Direção de Gestão das Migrações", "es": "Dirección de Gestión Migratoria",
      "it": "Direzione per la gestione delle migrazioni", "de": "Direktion für Migrationsmanagement"}),
    ("police", "Police Department", "police",
     {"tr": "Emniyet Müdürlüğü", "fr": "Direction de la police", "pt": "Departamento de Polícia",
      "es": "Jefatura de Policía", "it": "Questura", "de": "Polizeidirektion", "ro": "Inspectoratul de Poliție"}),
    ("gendarmerie", "Gendarmerie Command", "gendarmerie",
     {"tr": "Jandarma Komutanlığı", "fr": "Groupement de gendarmerie", "pt": "Comando da Guarda Nacional Republicana",
      "es": "Comandancia de la Guardia Civil", "it": "Comando dei Carabinieri"}),
    ("labour-inspectorate", "Labour Inspectorate", "labour-inspectorate",
     {"tr": "İş Teftiş Kurulu", "fr": "Inspection du travail", "pt": "Autoridade para as Condições do Trabalho",
      "es": "Inspección de Trabajo", "it": "Ispettorato del lavoro", "de": "Arbeitsinspektorat"}),
    ("prosecution", "Chief Public Prosecutor's Office", "prosecution-service",
     {"tr": "Cumhuriyet Başsavcılığı", "fr": "Parquet général", "pt": "Procuradoria-Geral", "es": "Fiscalía Provincial",
      "it": "Procura della Repubblica", "de": "Generalstaatsanwaltschaft"}),
    ("border-service", "Border and Immigration Service", "border-immigration-service",
     {"tr": "Sınır ve Göç Hizmetleri", "fr": "Service des frontières et de l'immigration",
      "pt": "Serviço de Estrangeiros e Fronteiras", "es": "Servicio de Fronteras e Inmigración",
      "it": "Servizio frontiere e immigrazione", "de": "Grenz- und Einwanderungsdienst"}),
    ("ngo", "Association for the Support of Migrants", "non-governmental-organisation",
     {"tr": "Göçmenlere Destek Derneği", "fr": "Association de soutien aux migrants",
      "pt": "Associação de Apoio aos Migrantes", "es": "Asociación de Apoyo a los Migrantes",
      "it": "Associazione di sostegno ai migranti", "de": "Verein zur Unterstützung von Migranten"}),
    ("judicial-academy", "Justice Academy", "judicial-training-institution",
     {"tr": "Türkiye Adalet Akademisi", "fr": "École de la magistrature", "pt": "Centro de Estudos Judiciários",
      "es": "Escuela Judicial", "it": "Scuola della magistratura", "de": "Justizakademie"}),
    ("rapporteur", "National Rapporteur on Trafficking", "national-rapporteur",
     {"fr": "Rapporteur national sur la traite", "pt": "Relator Nacional para o Tráfico de Seres Humanos",
      "es": "Relator Nacional sobre la Trata", "tr": "İnsan Ticareti Ulusal Raportörü"}),
)

EVENT_TYPES = ("roundtable", "workshop", "training", "working-group-meeting", "peer-exchange", "study-visit",
               "conference")
EVENT_TYPE_EN = {"roundtable": "Roundtable", "workshop": "Workshop", "training": "Training",
                 "working-group-meeting": "Working group meeting", "peer-exchange": "Peer exchange",
                 "study-visit": "Study visit", "conference": "Conference"}
EVENT_TYPE_FR = {"roundtable": "Table ronde", "workshop": "Atelier", "training": "Formation",
                 "working-group-meeting": "Réunion du groupe de travail", "peer-exchange": "Échange entre pairs",
                 "study-visit": "Visite d'étude", "conference": "Conférence"}
EVENT_TYPE_TR = {"roundtable": "Yuvarlak masa toplantısı", "workshop": "Çalıştay", "training": "Eğitim",
                 "working-group-meeting": "Çalışma grubu toplantısı", "peer-exchange": "Akran değişimi",
                 "study-visit": "Çalışma ziyareti", "conference": "Konferans"}

THEMES = {
    "trafficking-in-human-beings": ("trafficking in human beings", "la traite des êtres humains"),
    "smuggling-of-migrants": ("smuggling of migrants", "le trafic illicite de migrants"),
    "human-rights-of-migrants": ("human rights of migrants", "les droits humains des migrants"),
    "labour-exploitation": ("labour exploitation", "l'exploitation par le travail"),
    "victim-protection": ("protection of victims", "la protection des victimes"),
    "organised-crime": ("organised crime", "la criminalité organisée"),
    "law-enforcement-cooperation": ("law enforcement cooperation", "la coopération des services répressifs"),
}

PARTICIPANT_ROLES = ("participant", "participant", "participant", "delegation-member", "counterpart",
                     "co-organiser", "host")

ATTENDANCE = {  # concept term -> schema.org mirror
    "in-person": "https://schema.org/OfflineEventAttendanceMode",
    "online": "https://schema.org/OnlineEventAttendanceMode",
    "hybrid": "https://schema.org/MixedEventAttendanceMode",
}

ACTION_WORDS = ("Strengthening", "Supporting", "Improving", "Enhancing", "Fostering", "Building")
ACTION_OBJECTS = ("the fight against", "the response to", "cooperation against", "capacities against",
                  "the prevention of")
